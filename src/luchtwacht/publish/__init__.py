"""Publishers: the node's air picture handed on to other systems (CoT/TAK, SAPIENT, ASTERIX)."""

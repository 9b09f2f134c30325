"""A feed's counters stay bounded whatever a sender makes its rejection reasons say."""

from luchtwacht.ingest.feed import MAX_REASONS, OTHER_REASONS, FeedCounters


def test_rejection_reasons_are_counted_in_a_bounded_table() -> None:
    c = FeedCounters()
    for k in range(1000):
        c.reject(f"field {k}: bad")
    c.reject("field 3: bad")  # a reason already kept goes on being counted under its name
    assert c.rejected == 1001
    assert len(c.rejected_by_reason) == MAX_REASONS + 1
    assert c.rejected_by_reason[OTHER_REASONS] == 1000 - MAX_REASONS
    assert c.rejected_by_reason["field 3: bad"] == 2
    assert sum(c.rejected_by_reason.values()) == c.rejected

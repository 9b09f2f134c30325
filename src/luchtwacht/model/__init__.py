"""Value types shared by the stages: detection batches, classes, tracks, zones and alerts."""

from luchtwacht.model.detection import N_CLASSES, DetectionBatch, ObjectClass, class_report_loglik

__all__ = ["N_CLASSES", "DetectionBatch", "ObjectClass", "class_report_loglik"]

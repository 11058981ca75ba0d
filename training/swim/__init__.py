"""Training of the swimmer head on the shared COCO SSD's backbone (issue 15): not shipped."""

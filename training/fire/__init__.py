"""Training of the learned fire/smoke verifier (`edge_models/models/fire_smoke_v1.tflite`).

`python -m training.fire.train` (or `make train-fire`) runs it end to end; see MODEL_CARD.md.
"""

"""The TorchServe handler of the antialiased classifiers: decode, crop, one batched forward pass, top-k JSON.

`image_classifier.py` is the entry point named in the model archive; the other modules each hold one concern.
"""

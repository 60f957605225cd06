"""Export of a classifier to other formats, each proven equal to eager PyTorch: ONNX (`antialiased.export.onnx`),
a Triton model repository (`antialiased.export.triton`), and the parity checks that prove them
(`antialiased.export.parity`, run on ONNX Runtime or OpenVINO through `antialiased.export.runtimes`)."""

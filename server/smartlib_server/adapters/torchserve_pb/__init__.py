"""Generated Python stubs for TorchServe's gRPC inference API (inference.proto); never hand-edited."""

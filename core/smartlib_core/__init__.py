"""The bottom layer of Smart Library: plain types and pure functions that the server, training
and the TorchServe handlers all use, so that those three never need to import each other."""

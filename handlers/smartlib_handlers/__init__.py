"""TorchServe handlers for Smart Library: only what TorchServe loads (the payload format they
share with the server is smartlib_core.torchserve_payload; the launcher is
smartlib_server.adapters.torchserve_stack). Importing this package does not import TorchServe."""

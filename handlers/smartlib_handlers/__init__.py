"""TorchServe handlers for Smart Library, the wire format they share with the server, and the
`python -m smartlib_handlers.stack` launcher. Importing this package does not import TorchServe."""

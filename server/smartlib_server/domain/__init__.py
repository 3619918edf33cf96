"""The server's lowest floor: plain records that services, adapters and api/ all pass around.

Only smartlib_core sits below it. Books and their recommendations are core's (training uses
them too); what only the server keeps (interactions, experiments, chat profiles) lives here, so
an adapter can store a record without importing the service that produces it.
"""

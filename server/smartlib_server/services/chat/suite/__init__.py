"""The conversation suite: scripted reader conversations in English and Portuguese with
machine-checkable expectations, and a runner that reports the pass rate per category.

`python -m smartlib_server.services.chat.suite` (or `smartlib chat-eval`) runs it.
"""

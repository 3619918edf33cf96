"""The conversation suite: scripted reader conversations in English and Portuguese with
machine-checkable expectations, and a runner that reports the pass rate per category.

It lives in bench/, outside the installed server package: `make chat-eval` runs it
(`PYTHONPATH=bench python -m smartlib_bench.chat_suite`), and so does `smartlib chat-eval` in
a source checkout. tests/integration/test_chat_suite.py runs it on both catalogs.
"""

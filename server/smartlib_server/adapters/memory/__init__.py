"""Conversation memory: the recent turns of each chat session, and what each user liked,
disliked and mentioned across sessions, so a returning user is remembered.

Two backends with one contract: in-process (bounded dicts) and Redis. Memory is a nicety, not
a dependency: the Redis backend never raises for backend trouble. A failed write is dropped and
a failed read returns nothing, both counted, so a chat degrades to "no memory" instead of failing.

`contract` holds the Protocol and the checks both backends share; `in_process` and
`redis_store` hold one backend each.
"""

"""Runs a conversation batch and writes, for each failed conversation, what every turn was read as:
the linked entities, the intent model's reading (label, confidence, sure or not, the runners-up),
the request the interpreter made of it and the failed checks. Used to tell, per miss, which stage
went wrong (linker, intent model, roles or handler); the sentences go to OUT only, off the tree.

usage: PYTHONPATH=bench .venv/bin/python bench/heldout/trace.py BATCH[.yaml[.gz]] HOME OUT [ids...]
HOME is a copy of an ingested 10k home; without model_store/ the catalog runs without an encoder.
"""
import gzip
import sys
import tempfile
from pathlib import Path

from smartlib_bench.chat_suite import runner
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.app import build_services
from smartlib_server.config import Settings
from smartlib_server.services.chat.agent import ChatAgent

batch, home, out, only = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), set(sys.argv[4:])
with tempfile.NamedTemporaryFile("wb", suffix=".yaml") as plain:
    plain.write(gzip.decompress(batch.read_bytes()) if batch.suffix == ".gz" else batch.read_bytes())
    plain.flush()
    conversations = [c for c in runner.load([Path(plain.name)]) if not only or c.id in only]
services = build_services(Settings(home=home, model_store=home / "model_store"))
services.load()
lines: list[str] = []
try:
    agent = ChatAgent(services.recommend, InProcessConversationMemory())
    seen: list[str] = []
    understand = agent.understand

    def traced(text, reading, parsed=None):
        ask, reading2 = understand(text, reading, parsed)
        u = agent.understander.complete(text, parsed or agent.understander(text, reading.situation, reading.entities))
        ents = ", ".join(f"{e.kind}:{e.name!r}<{e.text}>{'/' + e.role if e.role else ''}" for e in u.entities)
        ranked = " ".join(f"{label}={p:.2f}" for label, p in u.ranked)
        seen.append(f"    model {u.intent} {u.confidence:.2f} {'sure' if u.sure else 'UNSURE'} [{ranked}] slotted={u.slotted!r}\n"
                    f"    entities [{ents}]\n    request {ask.kind} {ask}"[:900])
        return ask, reading2

    agent.understand = traced
    prepare = agent.prepare

    def answered(turn, reading=None, parsed=None):
        reply = prepare(turn, reading, parsed)
        if seen:
            seen[-1] += f"\n    reply {reply.text[:240]!r} cards={[b.title for b in reply.books][:5]}"
        return reply

    agent.prepare = answered
    for conversation in conversations if conversations else []:
        seen.clear()
        outcome = runner.run_conversation(agent, conversation)
        if outcome.passed:
            continue
        lines.append(f"== {conversation.id} ({conversation.category}, {conversation.language})")
        turns = [t for s in conversation.sessions for t in s]
        for turn, trace in zip(turns, seen, strict=False):  # a crashed turn ends the trace early
            lines.append(f"  > {turn['say']}\n{trace}\n    expect {turn.get('expect')}")
        lines.extend(f"  FAIL {f[:400]}" for f in outcome.failures)
finally:
    services.close()
out.write_text("\n".join(lines) + "\n", encoding="utf-8")
print(f"{sum(1 for x in lines if x.startswith('=='))} failed conversations traced into {out}")

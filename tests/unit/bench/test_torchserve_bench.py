"""The measuring helpers of the TorchServe benchmark (the benchmark itself runs in `make bench`)."""
import threading
import time

from smartlib_bench.torchserve_bench import latencies_ms, throughput


def test_throughput_counts_every_call_across_threads():
    seen = []
    lock = threading.Lock()

    def call(i):
        time.sleep(0.01)
        with lock:
            seen.append(i)

    rate = throughput(call, concurrency=4, seconds=0.3)
    # 4 threads sleeping 10 ms each cannot exceed 400 calls/s (plus the calls still in flight)
    assert 100 < rate <= 4 / 0.01 * 1.1
    assert len(set(seen)) == len(seen), "each thread walks its own indices"


def test_latencies_are_milliseconds_per_call():
    values = latencies_ms(lambda i: time.sleep(0.005), 5)
    assert len(values) == 5 and all(4.5 <= v < 500 for v in values)

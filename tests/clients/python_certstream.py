"""Receive certstream messages with the certstream client from PyPI and save them.

Usage: python_certstream.py URL OUTPUT COUNT TIMEOUT_SECS

Prints "connected" on stdout once the WebSocket is open, writes every non-heartbeat message as
one JSON line to OUTPUT, and exits when COUNT messages have arrived (exit code 0) or after
TIMEOUT_SECS (exit code 2).
"""

import json
import os
import sys
import threading

import certstream


def main():
    url, output, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    messages = []
    done = threading.Event()
    lock = threading.Lock()

    def on_message(message, _context):
        with lock:
            messages.append(message)
            if len(messages) >= count:
                done.set()

    def on_open():
        print("connected", flush=True)

    listener = threading.Thread(
        target=certstream.listen_for_events,
        kwargs={"message_callback": on_message, "url": url, "on_open": on_open, "setup_logger": False},
        daemon=True,
    )
    listener.start()
    finished = done.wait(timeout)
    with lock:
        with open(output, "w", encoding="utf-8") as out:
            for message in messages:
                out.write(json.dumps(message) + "\n")
        received = len(messages)
    print(f"received {received} messages", flush=True)
    # The client library reconnects forever, so leave without waiting for its thread.
    os._exit(0 if finished else 2)


if __name__ == "__main__":
    main()

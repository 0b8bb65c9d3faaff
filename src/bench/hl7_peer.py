"""The peer of `suifang bench hl7`: python-hl7's asyncio MLLP server, acknowledging each
message with AA as soon as it is parsed (nothing stored). Prints "listening PORT" once bound.

usage: python hl7_peer.py
"""
import asyncio
import sys

import hl7
from hl7.mllp import start_hl7_server


async def connected(reader, writer):
    try:
        while not writer.is_closing():
            message = await reader.readmessage()
            writer.writemessage(message.create_ack())
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError):
        pass
    finally:
        writer.close()


async def main():
    server = await start_hl7_server(connected, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)

"""A readiness probe shared by the libtorrent bench peers (run by /usr/bin/python3)."""
import os
import socket


def handshake_answered(port, ti):
    """True when the session answers a BitTorrent handshake for the torrent on 127.0.0.1:port."""
    ih = ti.info_hashes()
    info_hash = (ih.v1 if ih.has_v1() else ih.get_best()).to_bytes()[:20]
    hs = bytes([19]) + b"BitTorrent protocol" + bytes(8) + info_hash + b"-BP0000-" + os.urandom(12)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
            c.settimeout(1)
            c.sendall(hs)
            got = b""
            while len(got) < 48:
                chunk = c.recv(68)
                if not chunk:
                    return False
                got += chunk
            return got[28:48] == info_hash
    except OSError:
        return False

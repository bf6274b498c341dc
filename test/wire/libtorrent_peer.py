"""A libtorrent 2.0 session driven by bttkit's interop tests: JSON commands on stdin, JSON events
on stdout. Loopback only; DHT, LSD, UPnP and NAT-PMP off. Run with /usr/bin/python3."""
import json
import os
import select
import sys
import time

import libtorrent as lt


def out(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


settings = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": lt.alert.category_t.all_categories,
    "user_agent": "libtorrent-interop",
    "connection_speed": 50,
}
ses = lt.session(settings)
handles = {}
deadline = time.time() + float(os.environ.get("LT_MAX_SECONDS", "150"))

# Wait for the listen socket.
port = 0
while time.time() < deadline and port == 0:
    for a in ses.pop_alerts():
        if isinstance(a, lt.listen_succeeded_alert):
            port = a.port
    if port == 0:
        time.sleep(0.05)
out(event="listening", port=port or ses.listen_port())


def add_active(p):
    # Not auto-managed and not paused: otherwise incoming connections are refused ("no active
    # torrents") until the queue starts the torrent.
    p.flags &= ~lt.torrent_flags.paused
    p.flags &= ~lt.torrent_flags.auto_managed
    h = ses.add_torrent(p)
    end = time.time() + 10
    while time.time() < end:
        st = h.status()
        if not st.paused and st.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
            break
        time.sleep(0.02)
    return h


def handle_cmd(c):
    cmd = c.get("cmd")
    if cmd == "seed":
        fs = lt.file_storage()
        lt.add_files(fs, c["path"])
        t = lt.create_torrent(fs, c.get("piece_length", 16384), flags=lt.create_torrent.v1_only)
        lt.set_piece_hashes(t, os.path.dirname(c["path"]))
        info = lt.torrent_info(t.generate())
        p = lt.add_torrent_params()
        p.ti = info
        p.save_path = os.path.dirname(c["path"])
        p.flags |= lt.torrent_flags.seed_mode
        h = add_active(p)
        ih = str(info.info_hashes().v1)
        handles[ih] = h
        out(event="seeding", infohash=ih, metadata_size=len(info.info_section()))
    elif cmd == "magnet":
        p = lt.parse_magnet_uri(c["uri"])
        p.save_path = c["save"]
        h = add_active(p)
        ih = str(h.info_hashes().v1)
        handles[ih] = h
        out(event="added", infohash=ih)
    elif cmd == "peers":
        h = handles.get(c["infohash"])
        peers = [] if h is None else ["%s:%d" % (pi.ip[0], pi.ip[1]) for pi in h.get_peer_info()]
        out(event="peers", infohash=c["infohash"], peers=peers)
    elif cmd == "quit":
        out(event="bye")
        sys.exit(0)


buf = ""
while time.time() < deadline:
    r, _, _ = select.select([sys.stdin], [], [], 0.05)
    if r:
        chunk = os.read(sys.stdin.fileno(), 65536).decode()
        if chunk == "":
            break
        buf += chunk
        while "\n" in buf:
            line, buf = buf.split("\n", 1)
            if line.strip():
                handle_cmd(json.loads(line))
    for a in ses.pop_alerts():
        if os.environ.get("LT_DEBUG"):
            sys.stderr.write("%s: %s\n" % (a.what(), a.message()))
        if isinstance(a, lt.metadata_received_alert):
            h = a.handle
            ti = h.torrent_file()
            out(event="metadata", infohash=str(h.info_hashes().v1), name=ti.name(), size=ti.info_section().__len__())
        elif isinstance(a, lt.peer_connect_alert):
            out(event="peer_connect", endpoint="%s:%d" % (a.endpoint[0], a.endpoint[1]))
        elif isinstance(a, lt.peer_disconnected_alert):
            out(event="peer_disconnected", endpoint="%s:%d" % (a.endpoint[0], a.endpoint[1]), msg=a.message())
        elif isinstance(a, (lt.metadata_failed_alert, lt.torrent_error_alert)):
            out(event="error", msg=a.message())

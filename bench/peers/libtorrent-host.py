"""Several libtorrent sessions in one process, each on its own port, for the many-peers benchmark
(bench/many-peers.bench.ts; run by /usr/bin/python3). The settings are libtorrent-peer.py's
(loopback, TCP only, no DHT/LSD/UPnP/NAT-PMP, encryption disabled).
  seed  <torrent> <dir> <port,port,...> [hp]
      every session seeds <dir>'s data (seed_mode: no re-hash); prints {"event":"seeding"}; a
      line "stats" on stdin prints {"event":"stats","uploaded":{port:bytes}} (payload uploaded).
  leech <torrent> <dir> <id,id,...> <seeder-port> [hp]
      every session (any free port) downloads into <dir>/<id>/ from 127.0.0.1:<seeder-port>; prints
      {"event":"done","port","seconds","downloaded","wasted"} for each (wasted: libtorrent's
      total_redundant_bytes), then {"event":"all-done"}; LT_MAX_SECONDS bounds the run.
hp: libtorrent's high_performance_seed() settings."""
import json
import os
import sys
import time

import libtorrent as lt
from lt_ready import handshake_answered

args = sys.argv[1:]
hp = args[-1] == "hp"
if hp:
    args = args[:-1]
mode, torrent, save, ports = args[0:4]
ti = lt.torrent_info(torrent)


def session(port):
    pack = lt.high_performance_seed() if hp else lt.default_settings()
    pack.update({
        # A leecher takes any free port (nobody dials it; `port` only names it).
        "listen_interfaces": "127.0.0.1:%s" % (port if mode == "seed" else 0),
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "enable_outgoing_tcp": True, "enable_incoming_tcp": True,
        "allow_multiple_connections_per_ip": True,
        "out_enc_policy": lt.enc_policy.pe_disabled, "in_enc_policy": lt.enc_policy.pe_disabled,
        "alert_mask": 0,
    })
    return lt.session(pack)


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


handles = {}
sessions = []
for port in ports.split(","):
    ses = session(port)
    sessions.append(ses)
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = save if mode == "seed" else os.path.join(save, port)
    if mode == "seed":
        atp.flags |= lt.torrent_flags.seed_mode
    handles[port] = ses.add_torrent(atp)

if mode == "seed":
    # Ready = every session answers a BitTorrent handshake for the torrent (add_torrent returns
    # before it takes connections; a leecher refused then waits for its reconnect back-off).
    ready_by = time.time() + 60
    waiting = [(int(p), s) for p, s in zip(ports.split(","), sessions)]
    while waiting and time.time() < ready_by:
        waiting = [(p, s) for p, s in waiting if not (s.is_listening() and handshake_answered(p, ti))]
        if waiting:
            time.sleep(0.02)
    out({"event": "seeding"})
    for line in sys.stdin:
        if line.strip() == "stats":
            out({"event": "stats",
                 "uploaded": {p: h.status().total_payload_upload for p, h in handles.items()}})
    sys.exit(0)

seeder = int(args[4])
started = time.time()
for h in handles.values():
    h.connect_peer(("127.0.0.1", seeder))
deadline = started + float(os.environ.get("LT_MAX_SECONDS", "600"))
left = dict(handles)
while left and time.time() < deadline:
    for p, h in list(left.items()):
        st = h.status()
        if st.is_seeding:
            out({"event": "done", "port": int(p), "seconds": time.time() - started,
                 "downloaded": st.total_payload_download, "wasted": st.total_redundant_bytes})
            # Leave the swarm once done, like the bttkit leechers of the benchmark.
            h.pause()
            del left[p]
    time.sleep(0.01)
if left:
    sys.stderr.write("leechers: %d not done in time\n" % len(left))
    sys.exit(1)
out({"event": "all-done"})

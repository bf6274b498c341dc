"""libtorrent for the huge-torrent benchmark (run by /usr/bin/python3), one JSON line per event.
  add   <torrent> <dir>                 add for download into <dir>; time and RSS until checked
  seed  <torrent> <dir> <port>          seed_mode (no recheck) from <dir> (a sparse file of zeros)
  leech <torrent> <dir> <port> <seeder-port> <pieces>
                                        download pieces [0, pieces) only (piece priorities), then exit
Loopback, no DHT/LSD/UPnP/NAT-PMP, TCP only. LT_MAX_SECONDS bounds a run."""
import json
import os
import sys
import time

import libtorrent as lt


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def session(port):
    pack = lt.default_settings()
    pack.update({
        "listen_interfaces": "127.0.0.1:%s" % port,
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    })
    return lt.session(pack)


mode, torrent, save = sys.argv[1:4]
max_seconds = float(os.environ.get("LT_MAX_SECONDS", "600"))
if mode == "add":
    ses = session(0)
    time.sleep(0.2)
    rss0 = rss_mib()
    t0 = time.time()
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    parsed = time.time()
    atp.save_path = save
    h = ses.add_torrent(atp)
    added = time.time()
    # Ready: the torrent left checking_files / checking_resume_data.
    busy = (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
    while time.time() < t0 + max_seconds and h.status().state in busy:
        time.sleep(0.001)
    ready = time.time()
    st = h.status()
    print(json.dumps({"event": "added", "parseMs": (parsed - t0) * 1000, "addMs": (added - t0) * 1000,
                      "readyMs": (ready - t0) * 1000, "rssMiB": rss_mib() - rss0,
                      "state": str(st.state), "pieces": st.num_pieces}), flush=True)
    sys.exit(0)

port = sys.argv[4]
ses = session(port)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save
if mode == "seed":
    atp.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(atp)
    print(json.dumps({"event": "seeding"}), flush=True)
    end = time.time() + float(os.environ.get("LT_MAX_SECONDS", "86400"))
    while time.time() < end:
        time.sleep(0.2)
    sys.exit(0)

seeder_port, pieces = int(sys.argv[5]), int(sys.argv[6])
n = atp.ti.num_pieces()
atp.piece_priorities = [1 if i < pieces else 0 for i in range(n)]
h = ses.add_torrent(atp)
started = time.time()
h.connect_peer(("127.0.0.1", seeder_port))
deadline = started + max_seconds
while time.time() < deadline:
    if h.status().is_finished:
        break
    time.sleep(0.005)
st = h.status()
print(json.dumps({"event": "done" if st.is_finished else "timeout", "seconds": time.time() - started,
                  "bytes": st.total_wanted_done, "rssMiB": rss_mib()}), flush=True)
sys.exit(0 if st.is_finished else 1)

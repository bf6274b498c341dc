"""A libtorrent peer for the download benchmark (run by /usr/bin/python3).
  seed  <torrent> <dir> <port> [hp]
  leech <torrent> <dir> <port> <seeder-port> [hp]
hp: libtorrent's high_performance_seed() settings. TCP only, loopback, no DHT/LSD/UPnP/NAT-PMP.
Also used by the interop tests (test/interop/session-interop.test.ts); LT_MAX_SECONDS bounds a run."""
import os
import json
import sys
import time

import libtorrent as lt

mode, torrent, save, port = sys.argv[1:5]
hp = sys.argv[-1] == "hp"
pack = lt.high_performance_seed() if hp else lt.default_settings()
pack.update({
    "listen_interfaces": "127.0.0.1:%s" % port,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": 0,
})
ses = lt.session(pack)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save
if mode == "seed":
    atp.flags |= lt.torrent_flags.seed_mode
h = ses.add_torrent(atp)
started = time.time()
if mode == "seed":
    print(json.dumps({"event": "seeding"}), flush=True)
    end = started + float(os.environ.get("LT_MAX_SECONDS", "86400"))
    while time.time() < end:
        time.sleep(0.2)
else:
    h.connect_peer(("127.0.0.1", int(sys.argv[5])))
    deadline = started + float(os.environ.get("LT_MAX_SECONDS", "600"))
    while time.time() < deadline:
        st = h.status()
        if st.is_seeding:
            break
        time.sleep(0.01)
    st = h.status()
    print(json.dumps({"event": "done" if st.is_seeding else "timeout", "seconds": time.time() - started}), flush=True)
    sys.exit(0 if st.is_seeding else 1)

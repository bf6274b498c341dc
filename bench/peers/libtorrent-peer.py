"""A libtorrent peer for the download benchmark (run by /usr/bin/python3).
  seed  <torrent> <dir> <port> [hp] [--utp] [--enc rc4|none]
  leech <torrent> <dir> <port> <seeder-port>[,<port>…] [hp] [--utp] [--enc rc4|none]
hp: libtorrent's high_performance_seed() settings. Loopback, no DHT/LSD/UPnP/NAT-PMP.
Transport: TCP only by default; --utp: uTP only (enable_*_tcp off, enable_*_utp on).
Encryption: libtorrent's default (pe_enabled) unless --enc: rc4 = in/out_enc_policy pe_forced with
allowed_enc_level pe_rc4; none = pe_disabled.
Also used by the interop tests (test/interop/session-interop.test.ts); LT_MAX_SECONDS bounds a run."""
import json
import os
import sys
import time

import libtorrent as lt
from lt_ready import handshake_answered

args = sys.argv[1:]
utp = "--utp" in args
if utp:
    args.remove("--utp")
enc = None
if "--enc" in args:
    i = args.index("--enc")
    enc = args[i + 1]
    if enc not in ("rc4", "none"):
        sys.exit("--enc takes rc4 or none")
    del args[i:i + 2]
mode, torrent, save, port = args[0:4]
hp = args[-1] == "hp"
pack = lt.high_performance_seed() if hp else lt.default_settings()
pack.update({
    "listen_interfaces": "127.0.0.1:%s" % port,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": utp, "enable_incoming_utp": utp,
    "enable_outgoing_tcp": not utp, "enable_incoming_tcp": not utp,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": 0,
})
if enc == "rc4":
    pack.update({"out_enc_policy": lt.enc_policy.pe_forced, "in_enc_policy": lt.enc_policy.pe_forced,
                 "allowed_enc_level": lt.enc_level.pe_rc4, "prefer_rc4": True})
elif enc == "none":
    pack.update({"out_enc_policy": lt.enc_policy.pe_disabled, "in_enc_policy": lt.enc_policy.pe_disabled})
ses = lt.session(pack)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save
if mode == "seed":
    atp.flags |= lt.torrent_flags.seed_mode
h = ses.add_torrent(atp)
started = time.time()
if mode == "seed":
    # "seeding" means ready for a leecher: add_torrent returns before the torrent takes
    # connections, and a leecher refused then waits for its reconnect back-off (bttkit's 5 s),
    # which the figure would include. Ready = a BitTorrent handshake to our own port is answered
    # (plaintext TCP). Over uTP or with encryption forced, which that probe cannot speak: the
    # torrent's seeding state and the listen socket, then half a second.
    probe = not utp and enc != "rc4"
    ready_by = time.time() + 30
    while time.time() < ready_by and not (ses.is_listening() and h.status().is_seeding
                                          and (not probe or handshake_answered(int(port), atp.ti))):
        time.sleep(0.02)
    if not probe:
        time.sleep(0.5)
    print(json.dumps({"event": "seeding"}), flush=True)
    end = started + float(os.environ.get("LT_MAX_SECONDS", "86400"))
    while time.time() < end:
        time.sleep(0.2)
else:
    for seeder_port in args[4].split(","):
        h.connect_peer(("127.0.0.1", int(seeder_port)))
    deadline = started + float(os.environ.get("LT_MAX_SECONDS", "600"))
    # The connections seen, by their utp_socket (1 << 17) and rc4_encrypted (1 << 19) flags once
    # past the handshake: looked at every 50 ms until one is seen, then every second.
    conns = set()
    busy = int(lt.peer_info.handshake) | int(lt.peer_info.connecting)
    next_look = 0.0
    while time.time() < deadline:
        st = h.status()
        if st.is_seeding:
            break
        now = time.time()
        if now >= next_look:
            for p in h.get_peer_info():
                f = int(p.flags)
                if not f & busy:
                    conns.add((bool(f & (1 << 17)), bool(f & int(lt.peer_info.rc4_encrypted))))
            next_look = now + (1.0 if conns else 0.05)
        time.sleep(0.01)
    st = h.status()
    print(json.dumps({"event": "done" if st.is_seeding else "timeout", "seconds": time.time() - started,
                      "connections": [{"utp": u, "rc4": r} for u, r in sorted(conns)],
                      "wasted": st.total_redundant_bytes}), flush=True)
    sys.exit(0 if st.is_seeding else 1)

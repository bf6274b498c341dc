"""libtorrent seeding many torrents in one session: the baseline of bench/many-torrents.bench.ts
(run by /usr/bin/python3).
  libtorrent-many.py <config.json>
config: {"torrents": [{"torrent", "path"}], "resumeDir", "resume": bool, "maxOpenFiles", "port",
         "large": {"torrent", "path", "seederPort"} | null}
With "resume", each torrent is added from <resumeDir>/<info-hash>.fastresume when present
(lt.read_resume_data), else checked in full. Prints JSON lines like bench/peers/bttkit-many.mjs:
"seeding" (ms since the process started, RSS, fds), "large" (seconds, MB/s), "exit" (peaks).
Before exiting it saves every torrent's resume data (save_resume_data → write_resume_data_buf),
as an app does at shutdown. Loopback only: no DHT, LSD, UPnP, NAT-PMP."""
import json
import os
import sys
import threading
import time

import libtorrent as lt

T0 = time.monotonic()
cfg = json.load(open(sys.argv[1]))


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def fds():
    return len(os.listdir("/proc/self/fd"))


def out(o):
    print(json.dumps(o), flush=True)


peak = {"fds": 0, "files": 0}
roots = [r for r in [cfg["torrents"][0]["path"] if cfg["torrents"] else None,
                     (cfg.get("large") or {}).get("path")] if r]


def file_fds():
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if any(link.startswith(r) for r in roots):
            n += 1
    return n
stop = threading.Event()


def sample():
    while not stop.is_set():
        peak["fds"] = max(peak["fds"], fds())
        peak["files"] = max(peak["files"], file_fds())
        time.sleep(0.05)


threading.Thread(target=sample, daemon=True).start()

ses = lt.session({
    "listen_interfaces": "127.0.0.1:%d" % cfg["port"],
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "file_pool_size": cfg.get("maxOpenFiles", 128),
    "allow_multiple_connections_per_ip": True,
    # Every torrent active (the default caps active seeds at 5 and queues the rest).
    "active_downloads": -1, "active_seeds": -1, "active_limit": -1, "active_checking": 2,
    "alert_mask": int(lt.alert.category_t.status_notification) | int(lt.alert.category_t.storage_notification)
    | int(lt.alert.category_t.error_notification),
})
handles = []
resumed = 0
T_FIRST = time.monotonic()
for t in cfg["torrents"]:
    ti = lt.torrent_info(t["torrent"])
    atp = None
    if cfg.get("resume"):
        path = os.path.join(cfg["resumeDir"], str(ti.info_hashes().v1) + ".fastresume")
        if os.path.exists(path):
            with open(path, "rb") as f:
                atp = lt.read_resume_data(f.read())
            resumed += 1
    if atp is None:
        atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = t["path"]
    # Not auto-managed: checked and seeding at once, not queued (as bttkit's torrents are).
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    handles.append(ses.add_torrent(atp))
total = len(handles)
while True:
    left = ses.get_torrent_status(lambda s: not s.is_seeding, 0)
    if not left:
        break
    if time.monotonic() - T0 > 600:
        out({"event": "timeout", "left": len(left)})
        sys.exit(1)
    time.sleep(0.02)
out({"event": "seeding", "count": total, "ms": (time.monotonic() - T0) * 1000, "addMs": (time.monotonic() - T_FIRST) * 1000,
     "rssMiB": status_kib("VmRSS") / 1024, "fds": fds(), "resumed": resumed,
     "threads": len(os.listdir("/proc/self/task"))})

if cfg.get("large"):
    lg = cfg["large"]
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(lg["torrent"])
    atp.save_path = lg["path"]
    started = time.monotonic()
    h = ses.add_torrent(atp)
    h.connect_peer(("127.0.0.1", int(lg["seederPort"])))
    handles.append(h)
    while not h.status().is_seeding:
        if time.monotonic() - started > 600:
            out({"event": "timeout", "large": True})
            sys.exit(1)
        time.sleep(0.01)
    seconds = time.monotonic() - started
    out({"event": "large", "seconds": seconds, "mbps": atp.ti.total_size() / 1e6 / seconds,
         "rssMiB": status_kib("VmRSS") / 1024, "fds": fds()})

d0 = time.monotonic()
os.makedirs(cfg["resumeDir"], exist_ok=True)
for h in handles:
    h.save_resume_data(lt.save_resume_flags_t.flush_disk_cache)
pending = len(handles)
while pending > 0 and time.monotonic() - d0 < 120:
    ses.wait_for_alert(1000)
    for a in ses.pop_alerts():
        if isinstance(a, lt.save_resume_data_alert):
            ih = str(a.handle.info_hashes().v1)
            with open(os.path.join(cfg["resumeDir"], ih + ".fastresume"), "wb") as f:
                f.write(lt.write_resume_data_buf(a.params))
            pending -= 1
        elif isinstance(a, lt.save_resume_data_failed_alert):
            pending -= 1
stop.set()
out({"event": "exit", "destroyMs": (time.monotonic() - d0) * 1000, "peakRssMiB": status_kib("VmHWM") / 1024,
     "maxFds": max(peak["fds"], fds()), "maxFileFds": peak["files"]})

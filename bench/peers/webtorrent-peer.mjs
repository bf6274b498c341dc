// A WebTorrent 2.8 peer for the download benchmark: `seed <torrent> <dir> <port>` or
// `leech <torrent> <dir> <port> <seeder-port>`. TCP only, no DHT, trackers, LSD or uTP.
import { readFileSync } from 'node:fs';
import WebTorrent from 'webtorrent';

const [mode, torrentPath, dir, port, seederPort] = process.argv.slice(2);
const client = new WebTorrent({
  dht: false,
  tracker: false,
  lsd: false,
  utp: false,
  webSeeds: false,
  torrentPort: Number(port),
});
client.on('error', (e) => {
  console.error(`webtorrent error: ${e.message}`);
  process.exit(1);
});
const started = performance.now();
const torrent = client.add(readFileSync(torrentPath), { path: dir, announce: [], skipVerify: false });
torrent.on('error', (e) => {
  console.error(`torrent error: ${e.message}`);
  process.exit(1);
});
if (mode === 'seed') {
  torrent.on('ready', () => console.log(JSON.stringify({ event: 'seeding', done: torrent.done })));
} else {
  torrent.on('ready', () => torrent.addPeer(`127.0.0.1:${seederPort}`));
  torrent.on('done', () => {
    console.log(JSON.stringify({ event: 'done', seconds: (performance.now() - started) / 1000 }));
    client.destroy(() => process.exit(0));
  });
}

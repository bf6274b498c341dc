/** `bttkit speed-peer --help`. */
export const SPEED_PEER_HELP = `Usage: bttkit speed-peer --role payer|payee [--peer host:port | --port N] [--scenario NAME|all]
                [--fund ADDRESS]... [--dir DIR] [--ledger-port N] [--ledger-id ID] [--reserve PRICE]
                [--size BYTES] [--piece-length BYTES] [--timeout SECONDS] [--list]

The btt_speed reference peer (docs/btt-extension.md, "Reference peer" and "Conformance kit"):
a scripted peer on 127.0.0.1 with its own embedded ledger, served over HTTP for the peer under
test. It makes a torrent, prints one JSON line {"event":"ready", ...} (its TRON address, the
ledger's URL and id, the .torrent and content paths, the info-hash), then prints every
btt_speed message it sends and receives as JSON lines (amounts as decimal strings).
  --role payer       we request and pay: the peer under test is a provider (a seeder)
  --role payee       we provide and are paid: the peer under test is a requester (a leecher)
  --peer host:port   connect to the peer under test (each scenario on a new connection;
                     retried until it answers, within --timeout)
  --port N           without --peer: listen on N (default any) and play the basic exchange
                     with every peer that connects, until interrupted
  --scenario NAME    play this conformance scenario, or "all" of the role's: one JSON line
                     {"scenario", "status": "pass"|"fail"|"skip", ...} each, then a summary;
                     exit status 1 if any failed. Default: the basic exchange only
  --list             print the role's scenarios (name, summary) and exit
  --fund ADDRESS     credit a deposit of 1,000 BTT to ADDRESS on the ledger (repeatable)
  --dir DIR          write the torrent and its content here (default: a temporary folder,
                     removed at exit)
  --ledger-port N    the ledger service's port (default any)
  --ledger-id ID     the ledger's id (default bttkit:conformance)
  --reserve PRICE    as payee: our reserve, the price we grant, base units per MiB (default 10^18)
  --size BYTES       content size (default 1048576)
  --piece-length B   piece length (default 16384)
  --timeout S        bound of every wait, seconds (default 30)
`;

/**
 * Metainfo: strict bounded bencode, .torrent v1 parse and create, magnet URIs, path safety.
 * @module metainfo
 */

export {
  BENCODE_ERROR_CODES,
  BencodeError,
  type BencodeErrorCode,
  MAGNET_ERROR_CODES,
  MagnetError,
  type MagnetErrorCode,
  METAINFO_ERROR_CODES,
  MetainfoError,
  type MetainfoErrorCode,
} from '../util/errors.js';
export {
  type BDict,
  type BEncodable,
  type BList,
  type BValue,
  type DecodeOptions,
  type DecodeResult,
  decode,
  decodePrefix,
  encode,
  RawBencode,
  type Span,
} from './bencode.js';
export {
  type CreatedTorrent,
  type CreateProgress,
  type CreateTorrentOptions,
  choosePieceLength,
  createTorrent,
} from './create.js';
export {
  formatMagnet,
  formatPeerAddress,
  MAX_MAGNET_LENGTH,
  type Magnet,
  type MagnetInput,
  type PeerAddress,
  parseInfoHash,
  parseMagnet,
  parsePeerAddress,
} from './magnet.js';
export { assertSafePath, MAX_PATH_DEPTH, type UnsafePathReason, unsafePathReason } from './paths.js';
export {
  encodeTorrent,
  type InfoDictionary,
  MAX_PIECE_LENGTH,
  type Metainfo,
  MIN_PIECE_LENGTH,
  type ParseTorrentOptions,
  parseInfoDictionary,
  parseTorrent,
  pieceHash,
  pieceLengthAt,
  type TorrentFields,
  type TorrentFile,
} from './torrent.js';

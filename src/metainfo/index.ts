/**
 * Metainfo: strict bounded bencode, .torrent parse and create (v1, v2 and hybrid, BEP 52),
 * Merkle trees, magnet URIs, path safety.
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
  parseInfoHashV2,
  parseMagnet,
  parsePeerAddress,
} from './magnet.js';
export {
  blockHashes,
  fileRoot,
  hashAt,
  MERKLE_BLOCK_SIZE,
  MERKLE_HASH_SIZE,
  type MerkleProof,
  type MerkleProofNode,
  merkleLayers,
  merklePadHash,
  merkleParent,
  merkleProof,
  merkleProofNode,
  merkleRoot,
  nextPowerOfTwo,
  pieceLayerCount,
  pieceLayerFromLeaves,
  pieceRoot,
  rootFromLeaves,
  rootFromPieceLayer,
  verifyMerkleProof,
  verifyPiece,
  verifyPieceLayer,
} from './merkle.js';
export { assertSafePath, MAX_PATH_DEPTH, type UnsafePathReason, unsafePathReason } from './paths.js';
export {
  encodeTorrent,
  type InfoDictionary,
  MAX_PIECE_LENGTH,
  type Metainfo,
  type MetainfoVersion,
  MIN_PIECE_LENGTH,
  type ParseTorrentOptions,
  parseInfoDictionary,
  parseTorrent,
  pieceHash,
  pieceLengthAt,
  type TorrentFields,
  type TorrentFile,
} from './torrent.js';
export type { V2FileSpan, V2Info } from './v2.js';

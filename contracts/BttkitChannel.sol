// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/**
 * @title BttkitChannel
 * @notice Unidirectional, non-custodial payment channels for bttkit's BitTorrent Speed payments on
 * BTTC: native BTT (token = address(0)) or one ERC-20 token per channel.
 *
 * Lifecycle (one channel id can be opened once, ever):
 *   open ──► Open ──(payee close)──────────────────────────────► Finished (tombstone)
 *              │ topUp (payer), submitVoucher (anyone)
 *              └─(payer startClose)─► Closing ──(payee close)──► Finished
 *                                        │ submitVoucher (anyone: the challenge)
 *                                        └─(anyone finishClose after the period)─► Finished
 *
 * Vouchers: EIP-712 `Voucher(bytes32 channelId,uint256 amount)` in the domain
 * (name "BttkitChannel", version "1", chainId, this contract), signed by the channel's `signer`;
 * `amount` is cumulative (the total promised so far). 65-byte r‖s‖v signatures, v ∈ {27, 28},
 * s in the lower half of the curve order (high-s refused). A voucher for more than the deposit is
 * worth the deposit.
 *
 * The payee settles with `close` (the newest voucher, final at once; only the payee can call it,
 * so a stale voucher there only costs the payee). A payer who wants out without the payee calls
 * `startClose`: the challenge period starts. Either side may record vouchers with
 * `submitVoucher` (at any time before the end, each one strictly higher than the last recorded):
 * if the payer's side recorded a stale voucher, the payee challenges within the period with a
 * newer one, which replaces it; the payee may also `close` with it during the period. After the
 * period `finishClose` (callable by anyone) pays the highest recorded voucher to the payee and
 * the rest to the payer. So every channel can be finished by either party alone: no funds are
 * locked forever. Top-up is allowed only while Open (not during the challenge period): the
 * deposit the payee sees is fixed once a close has started.
 *
 * Payouts: state is written before any transfer (checks-effects-interactions) and every
 * external entry point holds a reentrancy lock. A payout that fails (a payee contract that rejects
 * BTT, a token that refuses a transfer) does not block the other party: it is credited to
 * `pending(recipient, token)` and can be pulled later with `withdraw`. Native payouts during a
 * close forward at most `PAYOUT_GAS` gas (no griefing of the other party); `withdraw` forwards all.
 * Fee-on-transfer and rebasing tokens are not supported (`open` and `topUp` refuse a transfer
 * that credits less than asked).
 */
contract BttkitChannel {
    // ───────────────────────────── types and storage ─────────────────────────────

    /// @notice 0: never opened; 1: open; 2: closing (challenge period running); 3: finished.
    enum Status {
        None,
        Open,
        Closing,
        Finished
    }

    struct Channel {
        address payer; // slot 0
        uint64 closesAt; //  … the end of the challenge period (0 unless Closing)
        Status status; //    …
        address payee; // slot 1
        address token; // slot 2 (address(0): native BTT)
        address signer; // slot 3
        uint128 deposit; // slot 4
        uint128 claimed; //  … the highest voucher amount recorded (≤ deposit)
    }

    /// @notice Gas forwarded to a native payout during a close; a recipient needing more is
    /// credited to `pending` and pulls with `withdraw`.
    uint256 public constant PAYOUT_GAS = 100_000;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint256 amount)");
    bytes32 private constant NAME_HASH = keccak256("BttkitChannel");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1n / 2: the largest s accepted (EIP-2).
    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice Seconds between `startClose` and the earliest `finishClose`.
    uint64 public immutable challengePeriod;

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    mapping(bytes32 => Channel) private _channels;
    /// @notice Payouts that could not be pushed: recipient → token (address(0): native) → amount.
    mapping(address => mapping(address => uint256)) public pending;

    uint256 private _lock = 1;

    // ───────────────────────────── events ─────────────────────────────

    event Opened(
        bytes32 indexed id, address indexed payer, address indexed payee, address token, address signer, uint256 deposit
    );
    event ToppedUp(bytes32 indexed id, uint256 amount, uint256 deposit);
    event CloseStarted(bytes32 indexed id, uint64 closesAt);
    /// @notice A voucher was recorded (`amount` capped at the deposit); during Closing, a challenge.
    event VoucherSubmitted(bytes32 indexed id, address indexed by, uint256 amount);
    event Closed(bytes32 indexed id, uint256 toPayee, uint256 toPayer);
    event PaymentDeferred(address indexed to, address indexed token, uint256 amount);
    event Withdrawn(address indexed by, address indexed token, address to, uint256 amount);

    // ───────────────────────────── errors ─────────────────────────────

    error ZeroAddress();
    error AmountOutOfRange();
    error ValueMismatch();
    error NotAContract();
    error ChannelExists();
    error ChannelNotFound();
    error ChannelFinished();
    error ChannelClosing();
    error ChannelNotClosing();
    error ChallengeNotOver(uint64 closesAt);
    error NotPayer();
    error NotPayee();
    error BadSignature();
    error WrongSigner();
    error VoucherNotHigher(uint256 recorded);
    error TokenTransferFailed();
    error NothingToWithdraw();
    error Reentrancy();
    error BadChallengePeriod();

    modifier nonReentrant() {
        if (_lock != 1) revert Reentrancy();
        _lock = 2;
        _;
        _lock = 1;
    }

    /// @param challengePeriod_ seconds of the payer's unilateral close (1 s … 365 days).
    constructor(uint64 challengePeriod_) {
        if (challengePeriod_ == 0 || challengePeriod_ > 365 days) revert BadChallengePeriod();
        challengePeriod = challengePeriod_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    // ───────────────────────────── channel life ─────────────────────────────

    /**
     * @notice Opens channel `keccak256(abi.encode(msg.sender, payee, token, signer, salt))` with
     * `amount` locked: native BTT (`msg.value == amount`) when `token` is address(0), else an ERC-20
     * pulled with `transferFrom` (approve this contract first). Reverts if the id was ever used.
     * @return id the channel id.
     */
    function open(address payee, address token, address signer, bytes32 salt, uint256 amount)
        external
        payable
        nonReentrant
        returns (bytes32 id)
    {
        if (payee == address(0) || signer == address(0)) revert ZeroAddress();
        if (amount == 0 || amount > type(uint128).max) revert AmountOutOfRange();
        id = keccak256(abi.encode(msg.sender, payee, token, signer, salt));
        Channel storage c = _channels[id];
        if (c.status != Status.None) revert ChannelExists();
        c.payer = msg.sender;
        c.status = Status.Open;
        c.payee = payee;
        c.token = token;
        c.signer = signer;
        c.deposit = uint128(amount);
        emit Opened(id, msg.sender, payee, token, signer, amount);
        _pull(token, amount);
    }

    /// @notice Adds `amount` to an open channel's deposit (payer only; not during a close).
    function topUp(bytes32 id, uint256 amount) external payable nonReentrant {
        Channel storage c = _channels[id];
        _requireLive(c);
        if (c.status == Status.Closing) revert ChannelClosing();
        if (msg.sender != c.payer) revert NotPayer();
        uint256 deposit = uint256(c.deposit) + amount;
        if (amount == 0 || deposit > type(uint128).max) revert AmountOutOfRange();
        c.deposit = uint128(deposit);
        emit ToppedUp(id, amount, deposit);
        _pull(c.token, amount);
    }

    /**
     * @notice The payee settles: pays the payee the higher of the recorded voucher and this one
     * (capped at the deposit), the rest to the payer; the channel is finished. `amount == 0`
     * needs no signature (the payee releases the deposit). Allowed while Open and during a close.
     */
    function close(bytes32 id, uint256 amount, bytes calldata sig) external nonReentrant {
        Channel storage c = _channels[id];
        _requireLive(c);
        if (msg.sender != c.payee) revert NotPayee();
        uint256 owed = c.claimed;
        if (amount != 0) {
            _verify(id, amount, sig, c.signer);
            uint256 capped = amount < c.deposit ? amount : c.deposit;
            if (capped > owed) owed = capped;
        }
        _settle(id, c, owed);
    }

    /// @notice The payer starts a unilateral close: after `challengePeriod` seconds anyone may
    /// `finishClose`. Until then the payee can `close` or `submitVoucher` (challenge).
    function startClose(bytes32 id) external nonReentrant {
        Channel storage c = _channels[id];
        _requireLive(c);
        if (c.status == Status.Closing) revert ChannelClosing();
        if (msg.sender != c.payer) revert NotPayer();
        uint64 closesAt = uint64(block.timestamp) + challengePeriod;
        c.status = Status.Closing;
        c.closesAt = closesAt;
        emit CloseStarted(id, closesAt);
    }

    /**
     * @notice Records a voucher (anyone may submit one: the signature is what counts). It must be
     * strictly higher than the last recorded one (after capping at the deposit). During a close
     * this is the challenge that corrects a stale recorded voucher.
     */
    function submitVoucher(bytes32 id, uint256 amount, bytes calldata sig) external nonReentrant {
        Channel storage c = _channels[id];
        _requireLive(c);
        if (c.status == Status.Closing && block.timestamp >= c.closesAt) revert ChannelClosing();
        _verify(id, amount, sig, c.signer);
        uint256 capped = amount < c.deposit ? amount : c.deposit;
        if (capped <= c.claimed) revert VoucherNotHigher(c.claimed);
        c.claimed = uint128(capped);
        emit VoucherSubmitted(id, msg.sender, capped);
    }

    /// @notice Ends a payer's close after the challenge period (callable by anyone): the highest
    /// recorded voucher goes to the payee, the rest to the payer.
    function finishClose(bytes32 id) external nonReentrant {
        Channel storage c = _channels[id];
        _requireLive(c);
        if (c.status != Status.Closing) revert ChannelNotClosing();
        if (block.timestamp < c.closesAt) revert ChallengeNotOver(c.closesAt);
        _settle(id, c, c.claimed);
    }

    /// @notice Pulls the caller's deferred payouts of `token` (address(0): native) to `to`.
    function withdraw(address token, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = pending[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw();
        pending[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, to, amount);
        bool ok;
        if (token == address(0)) {
            assembly ("memory-safe") {
                ok := call(gas(), to, amount, 0, 0, 0, 0)
            }
        } else {
            ok = _tryTransfer(token, to, amount);
        }
        if (!ok) revert TokenTransferFailed();
    }

    // ───────────────────────────── views ─────────────────────────────

    /// @notice A channel's state (all zero for an id never opened; status Finished, the rest zero,
    /// for a finished one).
    function channel(bytes32 id)
        external
        view
        returns (
            address payer,
            address payee,
            address token,
            address signer,
            uint256 deposit,
            uint256 claimed,
            uint64 closesAt,
            Status status
        )
    {
        Channel storage c = _channels[id];
        return (c.payer, c.payee, c.token, c.signer, c.deposit, c.claimed, c.closesAt, c.status);
    }

    /// @notice The channel id `open` would give.
    function channelId(address payer, address payee, address token, address signer, bytes32 salt)
        external
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(payer, payee, token, signer, salt));
    }

    /// @notice The EIP-712 domain separator on the current chain.
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    /// @notice The EIP-712 digest a voucher's signer signs.
    function voucherDigest(bytes32 id, uint256 amount) public view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), keccak256(abi.encode(VOUCHER_TYPEHASH, id, amount))));
    }

    // ───────────────────────────── internals ─────────────────────────────

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    function _requireLive(Channel storage c) private view {
        Status s = c.status;
        if (s == Status.None) revert ChannelNotFound();
        if (s == Status.Finished) revert ChannelFinished();
    }

    /// @dev ECDSA recovery of a 65-byte r‖s‖v signature over the voucher's digest; refuses
    /// malformed, high-s and wrong-v signatures and any signer other than `signer`.
    function _verify(bytes32 id, uint256 amount, bytes calldata sig, address signer) private view {
        if (sig.length != 65) revert BadSignature();
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) revert BadSignature();
        address recovered = ecrecover(voucherDigest(id, amount), v, r, s);
        if (recovered == address(0)) revert BadSignature();
        if (recovered != signer) revert WrongSigner();
    }

    /// @dev Finishes the channel (tombstone: status Finished, every other field cleared) before
    /// paying `toPayee` to the payee and the rest to the payer.
    function _settle(bytes32 id, Channel storage c, uint256 toPayee) private {
        address payer = c.payer;
        address payee = c.payee;
        address token = c.token;
        uint256 toPayer = uint256(c.deposit) - toPayee;
        c.payer = address(0);
        c.closesAt = 0;
        c.status = Status.Finished;
        c.payee = address(0);
        c.token = address(0);
        c.signer = address(0);
        c.deposit = 0;
        c.claimed = 0;
        emit Closed(id, toPayee, toPayer);
        _push(token, payee, toPayee);
        _push(token, payer, toPayer);
    }

    /// @dev Takes `amount` in from the caller: checks msg.value for native BTT, else pulls the
    /// token and checks that the balance grew by exactly `amount`.
    function _pull(address token, uint256 amount) private {
        if (token == address(0)) {
            if (msg.value != amount) revert ValueMismatch();
            return;
        }
        if (msg.value != 0) revert ValueMismatch();
        if (token.code.length == 0) revert NotAContract();
        uint256 before = _balanceOf(token);
        (bool ok, bytes memory ret) =
            token.call(abi.encodeWithSelector(0x23b872dd, msg.sender, address(this), amount));
        if (!ok || (ret.length != 0 && (ret.length != 32 || abi.decode(ret, (uint256)) != 1))) {
            revert TokenTransferFailed();
        }
        if (_balanceOf(token) != before + amount) revert TokenTransferFailed();
    }

    function _balanceOf(address token) private view returns (uint256) {
        (bool ok, bytes memory ret) = token.staticcall(abi.encodeWithSelector(0x70a08231, address(this)));
        if (!ok || ret.length != 32) revert TokenTransferFailed();
        return abi.decode(ret, (uint256));
    }

    /// @dev Pays out; a failed payout is credited to `pending` instead of reverting.
    function _push(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        bool ok;
        if (token == address(0)) {
            uint256 g = PAYOUT_GAS;
            assembly ("memory-safe") {
                ok := call(g, to, amount, 0, 0, 0, 0)
            }
        } else {
            ok = _tryTransfer(token, to, amount);
        }
        if (!ok) {
            pending[to][token] += amount;
            emit PaymentDeferred(to, token, amount);
        }
    }

    /// @dev ERC-20 `transfer` that accepts tokens returning nothing (USDT-style) or `true`.
    function _tryTransfer(address token, address to, uint256 amount) private returns (bool) {
        (bool ok, bytes memory ret) = token.call(abi.encodeWithSelector(0xa9059cbb, to, amount));
        return ok && (ret.length == 0 || (ret.length == 32 && abi.decode(ret, (uint256)) == 1));
    }
}

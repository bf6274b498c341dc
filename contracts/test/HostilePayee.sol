// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title HostilePayee
/// @notice A test payee contract that misbehaves when paid native BTT: mode 1 burns all the gas it
/// is given; mode 2 calls back into `target` with `payload` once (a reentrancy attempt) and
/// records the 4-byte error it got (0xffffffff if the call succeeded). `exec` forwards the calls
/// a payee makes (`close`, `withdraw`).
contract HostilePayee {
    uint8 public mode;
    bool public attempted;
    bytes4 public reentryError;
    address public target;
    bytes public payload;

    function arm(uint8 mode_, address target_, bytes calldata payload_) external {
        mode = mode_;
        target = target_;
        payload = payload_;
        attempted = false;
        reentryError = 0;
    }

    receive() external payable {
        if (mode == 1) {
            while (true) {}
        }
        if (mode == 2 && !attempted) {
            attempted = true;
            (bool ok, bytes memory ret) = target.call(payload);
            if (ok) reentryError = 0xffffffff;
            else if (ret.length >= 4) reentryError = bytes4(ret);
        }
    }

    function exec(address to, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }
}

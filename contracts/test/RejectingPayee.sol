// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title RejectingPayee
/// @notice A test payee contract that refuses native BTT until told otherwise, and forwards the
/// calls a payee makes to a BttkitChannel (`close`, `withdraw`): for the "no funds locked" tests.
contract RejectingPayee {
    bool public accept;

    receive() external payable {
        require(accept, "rejected");
    }

    function setAccept(bool on) external {
        accept = on;
    }

    function exec(address target, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }
}

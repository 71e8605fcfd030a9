// tcp_nodelay.hpp — turns Nagle off on this process's listening TCP sockets, for a libmilter
// filter. libmilter opens its listener itself and never shows the descriptor; Linux copies
// TCP_NODELAY from a listening socket to every socket accept() returns, so setting it on the
// listener right after smfi_opensocket() covers each MTA connection. Without it a reply made
// of several packets (ADDHEADER then ACCEPT) waits ~40 ms for the MTA's delayed ACK.
// libmilter-free (scans /proc/self/fd). Call once from the main thread before smfi_main().
#pragma once

namespace aamp {

// Sets TCP_NODELAY on every TCP socket of this process that is in listen state and returns
// how many it set (0 for a unix-socket listener). Throws std::system_error when /proc/self/fd
// cannot be read or setsockopt fails on a listener.
int set_nodelay_on_listeners();

}  // namespace aamp

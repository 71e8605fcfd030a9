// commands.hpp — the aampctl commands. Each group lives in its own cmd_*.cpp: an add_*
// function declares its arguments on the Commands tree (ctl/cli.hpp) and names the
// function that runs it, which returns the process exit status; UsageError (exit 2) for
// bad input, StoreError for the database.
#pragma once

#include "ctl/cli.hpp"

namespace aamp::ctl {

void add_validate(Commands& c);  // cmd_validate.cpp
void add_db(Commands& c);        // cmd_db.cpp: init and migrate
void add_mailbox(Commands& c);   // cmd_mailbox.cpp
void add_sender(Commands& c);    // cmd_sender.cpp
void add_pair(Commands& c);      // cmd_pair.cpp
void add_explain(Commands& c);   // cmd_explain.cpp
void add_check(Commands& c);     // cmd_check.cpp
void add_transfer(Commands& c);  // cmd_transfer.cpp: export and import
void add_audit(Commands& c);     // cmd_audit.cpp
void add_outbox(Commands& c);    // cmd_outbox.cpp
void add_thread(Commands& c);    // cmd_thread.cpp
void add_backup(Commands& c);    // cmd_backup.cpp

}  // namespace aamp::ctl

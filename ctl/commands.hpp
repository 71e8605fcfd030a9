// commands.hpp — the aampctl commands. Each group lives in its own cmd_*.cpp and returns
// the process exit status; UsageError (exit 2) for bad input, StoreError for the database.
#pragma once

#include "ctl/cli.hpp"

namespace aamp::ctl {

int cmd_validate(Cli& cli, const Globals& g);  // cmd_validate.cpp
int cmd_init(Cli& cli, const Globals& g);      // cmd_db.cpp: init and migrate
int cmd_migrate(Cli& cli, const Globals& g);
int cmd_mailbox(Cli& cli, const Globals& g);   // cmd_mailbox.cpp
int cmd_sender(Cli& cli, const Globals& g);    // cmd_sender.cpp
int cmd_pair(Cli& cli, const Globals& g);      // cmd_pair.cpp
int cmd_audit(Cli& cli, const Globals& g);     // cmd_audit.cpp
int cmd_explain(Cli& cli, const Globals& g);   // cmd_explain.cpp
int cmd_check(Cli& cli, const Globals& g);     // cmd_check.cpp
int cmd_export(Cli& cli, const Globals& g);    // cmd_transfer.cpp: export and import
int cmd_import(Cli& cli, const Globals& g);
int cmd_outbox(Cli& cli, const Globals& g);    // cmd_outbox.cpp
int cmd_backup(Cli& cli, const Globals& g);    // cmd_backup.cpp

}  // namespace aamp::ctl

# aampctl(8) bash completion — commands, subcommands, options and the values of the
# options that take names. Installed as /usr/share/bash-completion/completions/aampctl;
# or: source ctl/completion/aampctl.bash. tests/cli/test_completion.py checks it against
# `aampctl --help` and docs/cli.md, so a command or flag added there must be added here.

_aampctl_commands="validate init migrate mailbox sender pair explain check export import audit outbox backup thread"
_aampctl_globals="-c --config --db --json -h --help -V --version"
# Options that take a value (the next word is that value, not a command).
_aampctl_valued=" -c --config --db --mode --intents --trust --thread-binding --unknown-threads --note --mailbox --context --context-json --ttl --rules
 --rules-json --bytes --from --to --intent --rcpt --auth-user --client-ip --mail-from -o --since --sender --verdict
 --limit --before --state "
_aampctl_intents="task.dispatch task.cancel task.ack task.help_needed task.result task.stream.opened pair.request
 pair.respond card.query card.response"
_aampctl_verdicts="allow deny invalid untrusted stale pair-completed pair-rejected pair-locked report-deny
 report-invalid report-untrusted report-stale report-pair-completed report-pair-rejected report-pair-locked not-aamp
 unprotected too-large store-error internal-error reply-sent reply-deferred reply-abandoned thread-hijack not-party
 unknown-thread duplicate report-thread-hijack report-not-party report-unknown-thread report-duplicate"

# The subcommands of a command ("" when it has none).
_aampctl_subcommands() {
  case $1 in
    mailbox) echo "add set list remove" ;;
    sender) echo "allow list remove" ;;
    pair) echo "issue list revoke" ;;
    audit) echo "export prune" ;;
    outbox) echo "list retry drop" ;;
    thread) echo "show" ;;
  esac
}

# The options of "command subcommand".
_aampctl_options() {
  case "$1 $2" in
    "validate "*) echo "--mode" ;;
    "mailbox add" | "mailbox set") echo "--mode --intents --trust --thread-binding --unknown-threads --note" ;;
    "sender allow") echo "--mailbox --context --context-json --note" ;;
    "sender list" | "pair list") echo "--mailbox" ;;
    "pair issue") echo "--mailbox --ttl --rules --rules-json --bytes --qr --note" ;;
    "explain "*) echo "--from --to --intent --context" ;;
    "check "*) echo "--rcpt --auth-user --client-ip --mail-from" ;;
    "export "*) echo "-o" ;;
    "audit " | "audit export") echo "--since --mailbox --sender --verdict --limit" ;;
    "audit prune") echo "--before" ;;
    "outbox list") echo "--state" ;;
    "backup "*) echo "--force" ;;
  esac
}

_aampctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= sub= word i
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()
  # The command and subcommand typed so far: the first two words that are neither an
  # option nor an option's value.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      [[ $word != *=* && $_aampctl_valued == *" $word "* ]] && ((i++))
      continue
    fi
    if [[ -z $cmd ]]; then
      cmd=$word
    elif [[ -z $sub && -n $(_aampctl_subcommands "$cmd") ]]; then
      sub=$word
    fi
  done

  # The value of an option.
  case $prev in
    -c | --config | --db | -o)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return 0
      ;;
    --mode)
      if [[ $cmd == validate ]]; then
        mapfile -t COMPREPLY < <(compgen -W "strict sdk" -- "$cur")
      else
        mapfile -t COMPREPLY < <(compgen -W "enforce report off" -- "$cur")
      fi
      return 0
      ;;
    --thread-binding) mapfile -t COMPREPLY < <(compgen -W "enforce report off default" -- "$cur"); return 0 ;;
    --unknown-threads) mapfile -t COMPREPLY < <(compgen -W "allow refuse default" -- "$cur"); return 0 ;;
    --trust) mapfile -t COMPREPLY < <(compgen -W "any none auth internal authres" -- "$cur"); return 0 ;;
    --intent | --intents) mapfile -t COMPREPLY < <(compgen -W "$_aampctl_intents none" -- "$cur"); return 0 ;;
    --verdict) mapfile -t COMPREPLY < <(compgen -W "$_aampctl_verdicts" -- "$cur"); return 0 ;;
    --state) mapfile -t COMPREPLY < <(compgen -W "pending sent abandoned" -- "$cur"); return 0 ;;
  esac
  [[ $_aampctl_valued == *" $prev "* ]] && return 0  # a value of its own: nothing to offer

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_aampctl_options "$cmd" "$sub") $_aampctl_globals" -- "$cur")
    return 0
  fi
  if [[ -z $cmd ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$_aampctl_commands" -- "$cur")
    return 0
  fi
  local subs
  subs=$(_aampctl_subcommands "$cmd")
  if [[ -n $subs && -z $sub ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
    return 0
  fi
  case $cmd in
    validate | check | import | backup)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      ;;
  esac
  return 0
}

complete -F _aampctl aampctl

#!/usr/bin/env bash
# Back up and restore the SMS database (sealed secrets, enclave keys, nonces, audit log).
#
#   scripts/sms-backup.sh backup  DATABASE_URL OUT_FILE [SCHEMA]
#   scripts/sms-backup.sh restore DATABASE_URL IN_FILE  [SCHEMA]
#
# DATABASE_URL is the SMS's own setting (SEALRUN_SMS_DATABASE_URL):
#   sqlite:////var/lib/sealrun/sms/sms.db              -> sqlite3's online backup API (.backup)
#   postgresql+psycopg://user@host:5432/db             -> pg_dump --format=custom (one schema
#                                                         with SCHEMA, SEALRUN_SMS_DATABASE_SCHEMA;
#                                                         restore recreates what the dump holds)
# A backup is written to a temporary file next to OUT_FILE, then renamed, with OUT_FILE.sha256
# beside it; restore checks that checksum before it touches the database. Both run while the
# SMS serves (backup) or is stopped (restore: stop every SMS process first; docs/operate.md).
#
# The master key is NOT in the backup: the rows are sealed under it, so keep it in another
# place (a secret manager), and restore both. Nothing here prints a password: a URL with one
# is passed to libpq through the environment, never on a command line.
set -euo pipefail
umask 077

die() { echo "sms-backup: $*" >&2; exit 2; }

[[ $# -ge 3 && $# -le 4 ]] || die "usage: $0 backup|restore DATABASE_URL FILE [SCHEMA]"
action=$1 url=$2 file=$3 schema=${4:-}
[[ -z $schema || $schema =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "invalid schema name"
[[ $file != -* ]] || die "the file name must not start with '-'"

case $url in
  sqlite:///*)
    db=${url#sqlite:///}
    [[ -n $db && $db != *\?* ]] || die "a SQLite URL names a file: sqlite:////path/sms.db"
    [[ -z $schema ]] || die "SQLite has no schemas"
    kind=sqlite
    ;;
  postgresql://* | postgresql+psycopg://* | postgres://*)
    # libpq reads the URL from the environment: no password on a command line.
    export PGDATABASE="postgresql://${url#*://}"
    kind=postgres
    ;;
  *) die "unsupported database URL (sqlite:/// or postgresql://)" ;;
esac

checksum() { sha256sum "$1" | cut -d' ' -f1; }

case $action in
  backup)
    dir=$(dirname -- "$file")
    [[ -d $dir ]] || die "no folder $dir"
    tmp=$(mktemp -- "$dir/.sms-backup.XXXXXX")
    trap 'rm -f -- "$tmp"' EXIT
    if [[ $kind == sqlite ]]; then
      [[ -f $db ]] || die "no database file $db"
      # The online backup API: a consistent copy while the SMS writes (WAL included).
      sqlite3 -bail "file:$db?mode=ro" ".backup '${tmp//\'/\'\'}'"
      sqlite3 -bail "$tmp" "PRAGMA integrity_check" | grep -qx ok || die "the copy fails its integrity check"
    else
      args=(--format=custom --no-owner --no-privileges --file="$tmp")
      [[ -z $schema ]] || args+=(--schema="$schema")
      pg_dump "${args[@]}" --dbname="$PGDATABASE"
    fi
    sum=$(checksum "$tmp")
    printf '%s  %s\n' "$sum" "$(basename -- "$file")" > "$tmp.sha256"
    mv -f -- "$tmp" "$file"
    mv -f -- "$tmp.sha256" "$file.sha256"
    trap - EXIT
    echo "sms-backup: wrote $file ($kind, sha256 $sum)"
    ;;
  restore)
    [[ -f $file && -f $file.sha256 ]] || die "need $file and $file.sha256"
    [[ $(checksum "$file") == "$(cut -d' ' -f1 "$file.sha256")" ]] || die "$file does not match its checksum"
    if [[ $kind == sqlite ]]; then
      sqlite3 -bail "file:$file?mode=ro" "PRAGMA integrity_check" | grep -qx ok || die "$file is not a sound SQLite database"
      dir=$(dirname -- "$db")
      tmp=$(mktemp -- "$dir/.sms-restore.XXXXXX")
      trap 'rm -f -- "$tmp"' EXIT
      cp -- "$file" "$tmp"
      # The old write-ahead log belongs to the old file: drop it before the rename.
      rm -f -- "$db-wal" "$db-shm"
      mv -f -- "$tmp" "$db"
      trap - EXIT
    else
      # The dump names its schema: --clean drops and recreates it (an SMS schema holds only
      # the SMS's tables), all in one transaction that an error rolls back whole.
      pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
        --dbname="$PGDATABASE" "$file"
    fi
    echo "sms-backup: restored $file ($kind)"
    ;;
  *) die "unknown action $action (backup or restore)" ;;
esac

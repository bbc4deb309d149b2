#!/bin/sh
# docker/entrypoint.sh (installed as slq-entrypoint): runs the image's command. Before
# starting slqd it checks that the node's home was prepared and is usable by this uid, so
# that a missing or root-owned bind mount fails with one line saying what to do instead of
# a LevelDB error. Any other command (slq, sh, ...) runs as given.
set -eu

if [ "${1:-}" = slqd ]; then
    home=/home/slq
    prev=
    for a in "$@"; do
        [ "$prev" = --home ] && home=$a
        prev=$a
    done
    if [ -d "$home" ] && { [ ! -r "$home" ] || [ ! -w "$home" ] || [ ! -x "$home" ]; }; then
        echo "slq-entrypoint: $home is not readable and writable by uid $(id -u): chown the home to that uid or set SLQ_UID/SLQ_GID (docker/README.md)" >&2
        exit 1
    fi
    if [ ! -f "$home/genesis.json" ] || [ ! -f "$home/config.json" ]; then
        echo "slq-entrypoint: $home has no genesis.json/config.json: mount a home made by docker/prepare.sh (docker/README.md)" >&2
        exit 1
    fi
fi
exec "$@"

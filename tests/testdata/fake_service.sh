#!/bin/sh
# A stand-in server for service_process_test; its first argument picks how it
# behaves. It serves nothing: it only prints what the real binaries print.
mode="$1"
echo "fake_service args: $*" >&2
case "$mode" in
  serve)
    trap 'echo "fake_service got SIGTERM" >&2; exit 0' TERM
    echo "starting up"
    # One write, so that the harness reads past the line it waits for.
    printf 'fake_svc listening on 0.0.0.0:4242\nafter listening\n'
    while :; do sleep 1; done
    ;;
  ignore_term)
    trap '' TERM
    echo "fake_svc listening on 127.0.0.1:4243"
    while :; do sleep 1; done
    ;;
  exit_early)
    echo "fake_service cannot open its database" >&2
    exit 3
    ;;
  silent)
    while :; do sleep 1; done
    ;;
esac
exit 2

# shellcheck shell=bash
configure_firewall() {
  local mode
  mode=$(param FIREWALL)
  if [ -z "$mode" ]; then
    # The planner leaves the firewall out where the OS has none to configure (Flatcar).
    log "no firewall step planned for $(param OS_ID)"
    return 0
  fi
  if [ "$mode" = disabled ]; then
    if systemctl list-unit-files firewalld.service >/dev/null 2>&1; then unit_files disable --now firewalld >/dev/null 2>&1 || true; fi
    return 0
  fi
  # Opening the ports is firewall.sh's, shipped only to the nodes that open them (a cloud's user-data
  # is small).
  local script
  script="$ROOT$(param LIB_DIR)/firewall.sh"
  [ -r "$script" ] || die "no $script: the seed of a node that opens its firewall carries it"
  # shellcheck source=/dev/null # checked on its own (firewall.sh)
  . "$script"
  open_firewall_ports
}

# Sourced by hack/local-cluster and hack/local-ray: free loopback ports, none handed out twice
# (each script records what it took in $STATE/ports.used).

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port LOW COUNT: a free port in [LOW, LOW + COUNT), not taken before by this state directory.
free_port() {
  local low=$1 count=$2 port
  while :; do
    port=$((low + RANDOM % count))
    if port_free "$port" && ! grep -qx "$port" "$STATE/ports.used" 2>/dev/null; then
      echo "$port" >>"$STATE/ports.used"
      echo "$port"
      return
    fi
  done
}

package servers

import (
	"fmt"
	"net"
	"slices"
	"strconv"
)

// loopback is the address every server listens on.
const loopback = "127.0.0.1"

// fillFreePorts sets each port that is 0 to a distinct TCP port that is free
// on the loopback interface, and different from the ports that are set
// already. Another process may still take a port before the server binds it;
// the window is short.
func fillFreePorts(ports ...*int) error {
	var taken []int
	for _, p := range ports {
		if *p != 0 {
			taken = append(taken, *p)
		}
	}
	// Keep every listener open until all ports are chosen, so that the
	// kernel does not hand out the same port twice.
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for _, p := range ports {
		for *p == 0 {
			l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
			if err != nil {
				return fmt.Errorf("finding a free port: %w", err)
			}
			listeners = append(listeners, l)
			if port := l.Addr().(*net.TCPAddr).Port; !slices.Contains(taken, port) {
				*p = port
				taken = append(taken, port)
			}
		}
	}
	return nil
}

// hostPort joins the loopback address and port.
func hostPort(port int) string {
	return net.JoinHostPort(loopback, strconv.Itoa(port))
}

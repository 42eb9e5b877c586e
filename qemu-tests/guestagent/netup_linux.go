package guestagent

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// NetUp is `hibernate-guest-agent net-up IFACE ADDR/PREFIX`: the interface up with an IPv4
// address, as a fleet guest needs to reach the host's upsd through QEMU's user networking
// (10.0.2.15/24, the host at 10.0.2.2 on the same net: no route to add). The test guests have no
// iproute2.
func NetUp(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: net-up IFACE ADDR/PREFIX")
	}
	ip, ipnet, err := net.ParseCIDR(args[1])
	if err != nil || ip.To4() == nil {
		return fmt.Errorf("%q: want an IPv4 ADDR/PREFIX", args[1])
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, set := range []struct {
		req uint
		v   []byte
	}{{unix.SIOCSIFADDR, ip.To4()}, {unix.SIOCSIFNETMASK, net.IP(ipnet.Mask).To4()}} {
		ifr, err := unix.NewIfreq(args[0])
		if err != nil {
			return err
		}
		if err := ifr.SetInet4Addr(set.v); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, set.req, ifr); err != nil {
			return fmt.Errorf("%s: set %s: %w", args[0], net.IP(set.v), err)
		}
	}
	ifr, err := unix.NewIfreq(args[0])
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s: flags: %w", args[0], err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s: up: %w", args[0], err)
	}
	return nil
}

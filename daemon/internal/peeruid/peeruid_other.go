//go:build !linux && !darwin && !windows

package peeruid

import "net/netip"

func lookup(local, remote netip.AddrPort) (int, error) { return -1, ErrUnsupported }

func portHolder(port uint16) (Holder, error) { return Holder{}, ErrUnsupported }

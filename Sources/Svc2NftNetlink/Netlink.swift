// Placeholder until the netlink backend lands.

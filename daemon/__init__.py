"""Process wiring: settings, the `kpudesk` CLI, the scheduler and the service lifecycle."""

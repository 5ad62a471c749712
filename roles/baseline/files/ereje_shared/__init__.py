"""Code shared with Ereje's Ansible modules (module_utils), for the programs its roles schedule."""

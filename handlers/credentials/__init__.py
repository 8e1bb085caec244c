"""Credential surfaces: registering (`registration`), rotating (`rotation`) and deleting
(`deletion`) a credential."""

"""HTTP routes of the research workflow, one small module per resource under
/v1/studies. ``service.coding.router`` mounts them all."""

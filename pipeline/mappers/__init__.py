"""Named Python row mappers for sources whose upstream scripts a field template cannot express."""

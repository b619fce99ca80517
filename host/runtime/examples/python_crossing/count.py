"""Takes the values and returns their count: the crossing alone."""

from array import array

import wit_world


class WitWorld(wit_world.WitWorld):
    def floats(self, values):
        return float(len(values))

    def bytes(self, values):
        return float(len(array("d", values)))

"""Line plots as PIL images (no plotting library needed)."""

from PIL import Image, ImageDraw

COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
           (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127))


def line_plot(lines, x_label, y_label, size=(640, 420)):
  """A plot of {name: [(x, y), ...]} with axes, ticks and a legend.

  The y axis spans the data (at least 0.1 wide); each line has its own
  colour and marks its points.
  """
  width, height = size
  left, right, top, bottom = 70, 190, 20, 50
  image = Image.new("RGB", size, "white")
  draw = ImageDraw.Draw(image)
  xs = sorted({x for points in lines.values() for x, _ in points})
  ys = [y for points in lines.values() for _, y in points]
  y_low, y_high = min(ys), max(ys)
  if y_high - y_low < 0.1:
    middle = (y_high + y_low) / 2
    y_low, y_high = middle - 0.05, middle + 0.05
  x_low, x_high = xs[0], xs[-1]
  if x_high == x_low:
    x_low, x_high = x_low - 0.5, x_high + 0.5

  def at(x, y):
    px = left + (x - x_low) / (x_high - x_low) * (width - left - right)
    py = top + (y_high - y) / (y_high - y_low) * (height - top - bottom)
    return px, py

  draw.rectangle([left, top, width - right, height - bottom], outline="black")
  for x in xs:
    px, py = at(x, y_low)
    draw.line([px, py, px, py + 5], fill="black")
    draw.text((px - 10, py + 8), f"{x:g}", fill="black")
  for i in range(5):
    y = y_low + i * (y_high - y_low) / 4
    px, py = at(x_low, y)
    draw.line([px - 5, py, px, py], fill="black")
    draw.text((5, py - 6), f"{y:.3g}", fill="black")
  draw.text((left + (width - left - right) // 2 - 50, height - 20), x_label,
            fill="black")
  draw.text((5, 3), y_label, fill="black")
  for i, (name, points) in enumerate(lines.items()):
    colour = COLOURS[i % len(COLOURS)]
    pixels = [at(x, y) for x, y in points]
    if len(pixels) > 1:
      draw.line(pixels, fill=colour, width=2)
    for px, py in pixels:
      draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
    legend_y = top + 16 * i
    draw.line([width - right + 10, legend_y + 6, width - right + 30,
               legend_y + 6], fill=colour, width=2)
    draw.text((width - right + 35, legend_y), name, fill="black")
  return image

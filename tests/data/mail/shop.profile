# Shop profile of the mail fixtures (the shipped examples/shops/amazon.profile
# plus the trusted receiver mx.kagi.example that the fixtures use).
name = Amazon
brand = Amazon
brand = Amazon.co.jp
brand = アマゾン
brand = Amazon Prime
sender_domain = amazon.co.jp
sender_domain = amazon.com
sender_domain = amazon.de
link_domain = media-amazon.com
link_domain = images-amazon.com
authserv_id = mx.kagi.example

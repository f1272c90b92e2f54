"""Place names a question may write in lower case ("scored for brazil" / "scored in brazil"): the
role rules (cache.lexical) treat a word after a preposition as a place when it is capitalised,
follows an article, or is one of these. Single words only: countries, continents and regions,
and large cities."""

PLACE_NAMES = frozenset("""
afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan bahamas bahrain
bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia botswana brazil brunei bulgaria burundi
cambodia cameroon canada chad chile china colombia congo croatia cuba cyprus czechia czech denmark djibouti
dominica ecuador egypt eritrea estonia eswatini ethiopia fiji finland france gabon gambia georgia germany ghana
greece grenada guatemala guinea guyana haiti honduras hungary iceland india indonesia iran iraq ireland israel
italy jamaica japan jordan kazakhstan kenya kiribati kosovo kuwait kyrgyzstan laos latvia lebanon lesotho liberia
libya liechtenstein lithuania luxembourg madagascar malawi malaysia maldives mali malta mauritania mauritius mexico
micronesia moldova monaco mongolia montenegro morocco mozambique myanmar namibia nauru nepal netherlands holland
nicaragua niger nigeria norway oman pakistan palau palestine panama paraguay peru philippines poland portugal qatar
romania russia rwanda samoa senegal serbia seychelles singapore slovakia slovenia somalia spain sudan suriname
sweden switzerland syria taiwan tajikistan tanzania thailand togo tonga tunisia turkey turkmenistan tuvalu uganda
ukraine uruguay usa uk uzbekistan vanuatu vatican venezuela vietnam yemen zambia zimbabwe england scotland wales
britain america
africa asia europe antarctica oceania scandinavia siberia caribbean balkans
tokyo delhi shanghai beijing mumbai cairo dhaka osaka karachi istanbul kolkata manila lagos rio moscow lahore
bangalore bengaluru shenzhen paris london bogota jakarta lima bangkok seoul nagoya hyderabad chennai chicago
tehran chengdu wuhan madrid toronto baghdad riyadh berlin sydney melbourne rome athens dubai
barcelona milan munich amsterdam vienna prague budapest warsaw lisbon dublin brussels zurich geneva stockholm oslo
copenhagen helsinki boston seattle miami atlanta houston dallas denver phoenix philadelphia vancouver montreal
""".split())
